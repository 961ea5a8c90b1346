import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".wrangler/", "dist/", "worker-configuration.d.ts", "test-output/", "bench-output/", "src/server/generated/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The protocol layer is pure and fully typed.
    files: ["src/protocol/**/*.ts", "src/crypto/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "error" },
  },
  {
    // The examples are plain JavaScript run by Node or a browser, as a user would write them.
    files: ["examples/**/*.{js,mjs}"],
    languageOptions: {
      globals: Object.fromEntries(["console", "document", "location", "URLSearchParams", "TextEncoder", "TextDecoder"].map((g) => [g, "readonly"])),
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
