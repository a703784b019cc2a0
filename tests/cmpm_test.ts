// The loss `cmpm` (kernels/cmpm.wgsl, src/losses/cmpm.ts) against its float64 CPU twin
// (src/reference/cmpm.ts): the suite every loss passes (tests/losses_fixtures.ts).

import { lossSuite } from "./losses_fixtures.ts";

lossSuite("cmpm");
