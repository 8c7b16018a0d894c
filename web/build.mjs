// Bundle src/page.js and @langchain/langgraph-sdk into ../streamflow/server/static/sdk.js (the app serves it
// beside its SDK page). `node build.mjs <outdir>` writes the bundle elsewhere (the test of its freshness does).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] ?? path.join(here, "..", "streamflow", "server", "static");

await build({
  entryPoints: [path.join(here, "src", "page.js")],
  outfile: path.join(outdir, "sdk.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
