# Source this to run crossrank on a Mesa unpacked (not installed) under $MESA_ROOT, leaving the
# system's Mesa untouched. See bench/README.md, "Mesa 25 (bookworm-backports) vs Mesa 22".
#   MESA_ROOT=/work/mesa25/root MESA_BACKEND=gl . bench/mesa/env.sh      # EGL + llvmpipe, wgpu's GL
#   MESA_ROOT=/work/mesa25/root MESA_BACKEND=vulkan . bench/mesa/env.sh  # lavapipe, wgpu's Vulkan
# (sh's `.` passes no arguments to the file, so the backend comes in MESA_BACKEND, default gl).
# The unpacked Mesa gets its own shader cache (MESA_SHADER_CACHE_DIR), next to MESA_ROOT.
MESA_ROOT=${MESA_ROOT:-/work/mesa25/root}
_mesa_lib="$MESA_ROOT/usr/lib/x86_64-linux-gnu"
if [ ! -d "$_mesa_lib/dri" ]; then
  echo "bench/mesa/env.sh: no Mesa under $MESA_ROOT (run bench/mesa/fetch.sh first)" >&2
  return 1 2>/dev/null || exit 1
fi
export LD_LIBRARY_PATH="$_mesa_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIBGL_DRIVERS_PATH="$_mesa_lib/dri"
export __EGL_VENDOR_LIBRARY_FILENAMES="$MESA_ROOT/usr/share/glvnd/egl_vendor.d/50_mesa.json"
export VK_ICD_FILENAMES="$MESA_ROOT/usr/share/vulkan/icd.d/lvp_icd.json"
export VK_DRIVER_FILES="$VK_ICD_FILENAMES"
export DENO_WEBGPU_BACKEND="${MESA_BACKEND:-gl}"
unset _mesa_lib
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$MESA_ROOT/../shader-cache}"
