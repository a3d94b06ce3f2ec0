// Starts the app. A file of its own rather than an inline script, so the page's
// Content-Security-Policy can allow scripts from the server's own origin only.
import init from "./cloudsync_app.js";
init({ module_or_path: new URL("./cloudsync_app_bg.wasm", import.meta.url) });
