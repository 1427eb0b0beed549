// Zod 4 compiles object parsers with `new Function` where eval is allowed, and finds out by
// trying `new Function('')` once, when the first object schema is made. The renderer's CSP
// (script-src 'self', no 'unsafe-eval') refuses it: zod falls back to its interpreted parsers,
// but Chromium still reports the refused eval as a CSP violation, on every launch. jitless
// skips the probe (and the compiled parsers, which this CSP rules out anyway).
//
// Its own module, imported first by main.ts: modules run in import order, and the schemas
// made at the top of other modules (lib/run-records.ts, the shared protocol) must see it.
import { z } from 'zod';

z.config({ jitless: true });
