/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API paths herald owns; `npm run dev` forwards them so the app runs on Vite's origin.
const herald = process.env.HERALD_URL ?? "http://127.0.0.1:8080";
const proxied = ["/api", "/campaigns", "/health", "/metrics", "/docs"];

export default defineConfig({
  plugins: [react()],
  // herald serves index.html at `/` and the hashed files at `/assets/*`.
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // One small script and one stylesheet; no inline module-preload polyfill (strict CSP).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
  },
  server: {
    // The session cookie is SameSite=Strict and herald checks Origin: rewrite it to herald's.
    proxy: Object.fromEntries(
      proxied.map((path) => [path, { target: herald, changeOrigin: true, headers: { origin: herald } }]),
    ),
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
