/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// Served by Portico at /sample-app/ (relative paths), two pages: index.html (the app, also the OAuth
// redirect target) and launch.html (the SMART launch page).
export default defineConfig({
  base: "./",
  clearScreen: false,
  // fhirclient's browser entry polyfills fetch unless told the browser is modern.
  define: { FHIRCLIENT_PURE: "true" },
  build: {
    outDir: "dist",
    target: ["es2020", "safari13"],
    sourcemap: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // fhirclient's WebCrypto fallback (isomorphic-webcrypto, UMD) is bundled but runs only where
        // globalThis.crypto is missing; its `typeof module` guard is fine in ESM.
        if (warning.code === "COMMONJS_VARIABLE_IN_ESM") return;
        warn(warning);
      },
      input: {
        // Relative to the project root, where npm runs the build.
        index: "index.html",
        launch: "launch.html",
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
