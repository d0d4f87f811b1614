// 就近 · 工作台: a little help where it is worth it; every page works without it.
(function () {
  "use strict";
  var root = document.documentElement;
  if (localStorage.getItem("jiujin-big") === "1") root.classList.add("big");
  document.addEventListener("DOMContentLoaded", function () {
    var big = document.getElementById("big-toggle");
    if (big) {
      big.setAttribute("aria-pressed", root.classList.contains("big") ? "true" : "false");
      big.addEventListener("click", function () {
        var on = root.classList.toggle("big");
        localStorage.setItem("jiujin-big", on ? "1" : "0");
        big.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }
    document.querySelectorAll("button.print").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    // The identity number checked as it is typed (GB 11643 check digit).
    document.querySelectorAll("input[data-idcheck]").forEach(function (input) {
      var hint = document.getElementById(input.getAttribute("data-idcheck"));
      var check = function () {
        var v = input.value.trim().toUpperCase();
        var msg = "", ok = false;
        if (v.length > 0 && v.length < 18) msg = "已输入 " + v.length + " 位，应为 18 位";
        else if (v.length === 18) {
          if (!/^[0-9]{17}[0-9X]$/.test(v)) msg = "前 17 位只能是数字，末位为数字或 X";
          else {
            var w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], s = 0;
            for (var i = 0; i < 17; i++) s += (v.charCodeAt(i) - 48) * w[i];
            var want = "10X98765432".charAt(s % 11);
            if (want !== v.charAt(17)) msg = "校验位不对（应为 " + want + "），请核对号码";
            else { msg = "号码格式正确"; ok = true; }
          }
        }
        hint.textContent = msg;
        hint.className = "hint" + (msg === "" ? "" : ok ? " good" : " bad");
      };
      input.addEventListener("input", check);
      check();
    });
  });
})();
