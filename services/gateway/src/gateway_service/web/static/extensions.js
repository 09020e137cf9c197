// Feature modules loaded at start, in order; each imports registry.js and registers its toolbar
// items, panels and event handlers. Add a line per new module (paths relative to this file), e.g.
//   "./upload.js", "./actions.js", "./history.js", "./find-replace.js", "./download.js"
export const EXTENSIONS = ["./import.js", "./bulk.js", "./actions.js", "./history.js"];
