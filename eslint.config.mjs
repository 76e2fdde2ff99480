// Lint is type-aware only where it pays: recommended rules keep the run under a few seconds.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "**/dist/**", ".data/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": ["error", {
        paths: [{ name: "@pulumi/azure-native", message: "Import the service module (e.g. @pulumi/azure-native/keyvault): the package root costs ~1 s and ~170 MB." },
                { name: "@pulumi/azure", message: "Import the service module (e.g. @pulumi/azure/keyvault)." }],
      }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.cjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    files: ["test/**/*.ts"],
    // Tests inspect raw engine payloads, which are untyped by nature.
    rules: { "@typescript-eslint/no-unused-expressions": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
);
