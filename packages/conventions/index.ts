export * from "./roles";
export * from "./tags";
