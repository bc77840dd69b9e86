// The saved theme before the first paint (no flash of the wrong one); a classic script, not a module,
// so it runs before the stylesheet applies. No inline script: the page works under a strict CSP.
try {
  const saved = localStorage.getItem("tradebus.theme");
  if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
} catch (_) {
  /* storage blocked: the default (dark) stays */
}
