// Summarises a V8 .cpuprofile (node --cpu-prof, see bench/README.md "Profiling"): self time by where the code
// lives (an npm package, the service's src/, node's internals, GC) and the functions with the most self time.
//   node scripts/profile-summary.mjs bench/results/profiles/<file>.cpuprofile [top]
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node scripts/profile-summary.mjs <file.cpuprofile> [top functions, default 25]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));

// Each sample names the node that was running; the time until the next sample is that node's.
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
}

function placeOf(callFrame) {
  const { url, functionName } = callFrame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith("node:")) return "node:internal";
  const own = /\/(src|gen|gen-deps|bench)\//.exec(url);
  return own ? `${own[1]}/` : url;
}

const byPlace = new Map();
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  total += us;
  const place = placeOf(node.callFrame);
  byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^.*\/(src|gen|bench)\//, "$1/")}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
}

const idle = byPlace.get("(idle)") ?? 0;
const busy = total - idle;
const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
console.log(
  `profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle (shares below)`,
);
console.log("\nself time by place:");
for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1])) {
  if (place !== "(idle)" && us / busy >= 0.005) console.log(`  ${pct(us)}  ${place}`);
}
console.log(`\ntop ${top} functions by self time:`);
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top + 1)) {
  if (!name.startsWith("(idle)")) console.log(`  ${pct(us)}  ${name}`);
}
