// Spotlight Express - demo behaviour: consent choices, menu toggle and copy-link button.
(function () {
  var consent = document.getElementById("sx-consent");
  if (consent && window.localStorage && localStorage.getItem("sx-choice")) {
    consent.classList.add("is-closed");
  }
  document.querySelectorAll("[data-choice]").forEach(function (button) {
    button.addEventListener("click", function () {
      localStorage.setItem("sx-choice", button.dataset.choice);
      consent.classList.add("is-closed");
    });
  });
  var toggle = document.querySelector(".sx-menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      document.getElementById("sx-menu").style.display = open ? "" : "block";
    });
  }
  document.querySelectorAll(".sx-share__copy").forEach(function (button) {
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.link);
    });
  });
})();
