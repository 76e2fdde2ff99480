// Lint is type-aware only where it pays: recommended rules keep the run under a few seconds.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "**/dist/**", ".data/**", "coverage/**", ".build/**"] },
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
    // The program imports each resource class from its own module: a service index defines hundreds of lazy
    // getters (network's is 170 KB) and loading the dozen the program touches was ~30 ms of every run
    // (npm run bench:program). Type-only imports of a service are free and stay allowed.
    files: ["components/**/*.ts", "config/**/*.ts", "program.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "@pulumi/azure-native", message: "Import the resource's own module (e.g. @pulumi/azure-native/keyvault/vault)." },
                { name: "@pulumi/azure", message: "Import the resource's own module (e.g. @pulumi/azure/keyvault/certificate)." },
                { name: "@pulumi/random", message: "Import the resource's own module (e.g. @pulumi/random/randomString)." },
                { name: "zod", importNames: ["z"], message: "Use `import * as z from \"../config/zod\"`: the z namespace pins all of zod into the program bundle." }],
        patterns: [{
          regex: "^@pulumi/(azure-native|azure)/(?!provider$|types/)[^/]+$|^@pulumi/kubernetes/(?!provider$)[^/]+(/v[^/]+)?$",
          allowTypeImports: true,
          message: "Import the resource's own module (e.g. @pulumi/azure-native/keyvault/vault), not the service index.",
        }],
      }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.cjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    // tools/preflight.cjs runs on whatever old node comes first on PATH, so it stays plain CommonJS.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", __dirname: "readonly", module: "writable" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // The portal's browser code (served bundled by automation/http/portal.ts).
    files: ["portal/**/*.js"],
    languageOptions: {
      globals: Object.fromEntries(["document", "location", "history", "sessionStorage", "fetch", "URL", "URLSearchParams", "TextEncoder",
        "TextDecoderStream", "crypto", "btoa", "AbortController", "structuredClone", "setTimeout", "clearTimeout", "addEventListener", "removeEventListener"].map((g) => [g, "readonly"])),
    },
  },
  {
    files: ["test/**/*.ts"],
    // Tests inspect raw engine payloads, which are untyped by nature.
    rules: { "@typescript-eslint/no-unused-expressions": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
);
