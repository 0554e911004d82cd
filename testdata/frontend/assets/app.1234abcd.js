// myapp-e2e asset: app.1234abcd.js
document.getElementById("app").textContent = "shop is up";
