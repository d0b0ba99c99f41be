// Reel News - demo behaviour: consent choices, menu toggle and copy-link button.
(function () {
  var consent = document.getElementById("rn-consent");
  if (consent && window.localStorage && localStorage.getItem("rn-choice")) {
    consent.classList.add("is-closed");
  }
  document.querySelectorAll("[data-choice]").forEach(function (button) {
    button.addEventListener("click", function () {
      localStorage.setItem("rn-choice", button.dataset.choice);
      consent.classList.add("is-closed");
    });
  });
  var toggle = document.querySelector(".rn-menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      document.getElementById("rn-menu").style.display = open ? "" : "block";
    });
  }
  document.querySelectorAll(".rn-share__copy").forEach(function (button) {
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.link);
    });
  });
})();
