/* liveblog: the share buttons. The Web Share API where the browser has it, else copying
 * the link. The WhatsApp and X links work without this script; no third-party code runs.
 * Every word comes from the page (data attributes and the buttons' own text). */
(() => {
  "use strict";

  for (const box of document.querySelectorAll(".share[data-url]")) {
    const url = box.dataset.url;
    const title = box.dataset.title || document.title;
    const native = box.querySelector(".share-native");
    const copy = box.querySelector(".share-copy");
    const status = box.querySelector(".share-status");
    if (native && typeof navigator.share === "function") {
      native.hidden = false;
      native.addEventListener("click", () => {
        navigator.share({ title, url }).catch(() => { /* dismissed */ });
      });
    }
    if (copy && navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
      copy.hidden = false;
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(url);
          if (status) status.textContent = copy.dataset.done || "";
        } catch (err) {
          if (status) status.textContent = url; // to copy by hand
        }
      });
    }
  }
})();
