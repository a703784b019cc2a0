// The loss `ranknet` (kernels/ranknet.wgsl, src/losses/ranknet.ts) against its float64 CPU twin
// (src/reference/ranknet.ts): the suite every loss passes (tests/losses_fixtures.ts).

import { lossSuite } from "./losses_fixtures.ts";

lossSuite("ranknet");
