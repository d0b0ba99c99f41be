// Marquee Daily - demo behaviour: cookie banner and copy-link button.
(function () {
  var banner = document.getElementById("cookie-consent");
  if (banner && window.localStorage && localStorage.getItem("md-consent")) {
    banner.classList.add("hidden");
  }
  document.querySelectorAll(".cookie-accept, .cookie-manage").forEach(function (button) {
    button.addEventListener("click", function () {
      localStorage.setItem("md-consent", "1");
      banner.classList.add("hidden");
    });
  });
  document.querySelectorAll(".share-copy").forEach(function (button) {
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.url);
    });
  });
})();
