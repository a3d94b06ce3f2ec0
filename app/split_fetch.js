
// Appended to wasm-split's __wasm_split.js by scripts/build-app, which points the
// loader's fetch of each page's module here. A page's module is fetched in the
// background after the first screen; a dropped connection or a server restarting then
// must not stop the app (a module that fails to load is a panic in the app), so a
// network error or a 5xx is tried again: 6 attempts over about 15 s. Any other answer
// (a 404: the server was upgraded and its files are gone) goes straight to the loader.
async function fetchSplitModule(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url);
      if (response.status < 500 || attempt === 6) return response;
    } catch (error) {
      if (attempt === 6) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
  }
}
