/** The pack evaluator the tests share; it lives with the pack (policy/evaluate.ts) because the offline engine uses it too. */
export * from "../../policy/evaluate";
