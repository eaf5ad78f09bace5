#!/usr/bin/env -S node --max-semi-space-size=16 --min-semi-space-size=16 --import tsx
// `npx sluice <command>` (and `npm run sluice -- <command>`): builds the
// gateway first when dist/ is missing or older than its sources, as
// `npm start` does, then runs the compiled CLI. (The work is in launch.ts:
// tsx cannot compile a file that has both a shebang and a dynamic import.)
import { launch } from "./launch.js";

void launch();
