/**
 * Prints the WebGPU adapter crossrank gets (backend, description, vendor, architecture, driver) so a
 * run on an unpacked Mesa (see `bench/mesa/env.sh`) can prove which driver it loaded.
 *
 * `npx -y deno@2.9.6 run -A bench/mesa/adapter_info.ts`
 *
 * @module
 */
import { getGpu } from "../../src/gpu/device.ts";

const gpu = await getGpu();
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
const info = adapter?.info;
console.log(
  JSON.stringify({
    backend: gpu.backend,
    adapterName: gpu.adapterName,
    vendor: info?.vendor,
    architecture: info?.architecture,
    device: info?.device,
    description: info?.description,
    timestampQuery: adapter?.features.has("timestamp-query") ?? false,
    // The adapter strings do not carry Mesa's version; the shared objects this process mapped do.
    driverLibraries: mappedDriverLibraries(),
  }),
);

/** Paths of the driver libraries (Mesa, LLVM, EGL, Vulkan) mapped into this process. */
function mappedDriverLibraries(): string[] {
  const maps = Deno.readTextFileSync("/proc/self/maps");
  const paths = new Set<string>();
  for (const line of maps.split("\n")) {
    const path = line.slice(line.indexOf("/"));
    if (line.includes("/") && /dri|gallium|vulkan|EGL|LLVM|drm/.test(path)) paths.add(path);
  }
  return [...paths].sort();
}
