/* liveblog embed: runs inside another site's iframe, beside live.js.
 *
 * Opens every link in a new tab (target=_blank rel=noopener), posts that arrive live
 * included, and tells the parent page how tall the embed is whenever that changes:
 *   parent.postMessage({type: "liveblog:embed-height", slug: "<slug>", height: <CSS px>}, "*")
 * The height is no secret, so any parent may read it; a parent should check the message's
 * origin and that it comes from its own iframe (see docs/PARTNERS.md). No inline code.
 */
(() => {
  "use strict";

  const root = document.getElementById("story");
  if (!root) return;
  const slug = root.dataset.slug || "";
  let sent = -1;

  const outward = (node) => {
    for (const link of node.querySelectorAll ? node.querySelectorAll("a[href]") : []) {
      link.target = "_blank";
      link.rel = "noopener";
    }
  };

  const report = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === sent || window.parent === window) return;
    sent = height;
    window.parent.postMessage({ type: "liveblog:embed-height", slug, height }, "*");
  };

  outward(document);
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) if (node.nodeType === 1) outward(node);
    }
    report();
  }).observe(root, { childList: true, subtree: true, attributes: true });
  if ("ResizeObserver" in window) new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener("load", report);
  report();
})();
