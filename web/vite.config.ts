import { defineConfig } from "vite";

// Run as `vite build web` / `vite web`: the root is web/, so the output lands in web/dist. The page imports the
// generated code from ../gen and ../gen-deps, which Vite's default fs.allow (the package root) already covers.
export default defineConfig({
  // Relative asset URLs, so web/dist can be served from any path.
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  // strictPort: a taken port stops `npm run web:dev` instead of moving the page to an origin CORS_ORIGINS lacks.
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
});
