/** The pack evaluator the tests share; it lives with the pack (evaluate.ts) because the server's offline engine uses it too. */
export * from "../evaluate";
