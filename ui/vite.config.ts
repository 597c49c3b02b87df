/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// Tauri loads dist/ from disk, so paths are relative; WebKitGTK gets an ES2020 / Safari 13 build.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: false },
  build: {
    outDir: "dist",
    target: ["es2020", "safari13"],
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
