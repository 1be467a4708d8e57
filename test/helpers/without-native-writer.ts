// Imported first by a test file that watches the server's writes through
// node:fs (it patches fs.writeSync to see which buffers reach each socket):
// the native writer (src/server/native-writer.ts) writes past node:fs, so this
// turns it off for that file's process before the server's modules load.
// The rest of the suite runs with it; native-writer.test.ts tests it directly.
process.env.SWITCHYARD_NATIVE = '0';
