import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves on http://localhost:5173, the origin the server's
// CLOUDPOST_CORS_ORIGINS allows by default, so it works against `make run`
// with no configuration.
export default defineConfig({
  plugins: [react()],
  server: { host: "localhost", port: 5173, strictPort: true },
  preview: { host: "localhost", port: 5173, strictPort: true },
  build: { outDir: "dist", sourcemap: false },
});
