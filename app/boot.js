// Starts the app. A file of its own rather than an inline script, so the page's
// Content-Security-Policy can allow scripts from the server's own origin only.
import init from "./cloudsync_app.js";

// When the app's code stops (a page's module could not be fetched, say the server was
// upgraded under an open login page; or a bug), the page would freeze without a word.
// Say so, once, with a way out.
function stopped(reason, always = false) {
  if (!(always || reason instanceof WebAssembly.RuntimeError) || document.getElementById("app-stopped")) return;
  const box = document.createElement("div");
  box.id = "app-stopped";
  box.className = "app-stopped";
  box.dataset.testid = "app-stopped";
  box.setAttribute("role", "alert");
  box.textContent = "The app stopped: a part of it could not be loaded, or it hit a bug " +
    "(the browser's console has the details). ";
  const reload = document.createElement("button");
  reload.textContent = "Reload";
  reload.addEventListener("click", () => location.reload());
  box.append(reload);
  document.body.append(box);
}
addEventListener("error", (e) => stopped(e.error));
addEventListener("unhandledrejection", (e) => stopped(e.reason));

init({ module_or_path: new URL("./cloudsync_app_bg.wasm", import.meta.url) }).catch((e) => stopped(e, true));
