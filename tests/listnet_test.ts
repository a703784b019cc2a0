// The loss `listnet` (kernels/listnet.wgsl, src/losses/listnet.ts) against its float64 CPU twin
// (src/reference/listnet.ts): the suite every loss passes (tests/losses_fixtures.ts).

import { lossSuite } from "./losses_fixtures.ts";

lossSuite("listnet");
