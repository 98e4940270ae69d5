// Passkeys: reads the WebAuthn options the page carries, asks the browser, and posts the
// answer in an ordinary form. Without this script the pages simply offer no passkey button.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function described(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toText(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) out.response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify(out);
  }
  var form = document.getElementById("passkey-form");
  var source = document.getElementById("passkey-options");
  if (!form || !source) return;
  var options = JSON.parse(source.textContent);
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    if (form.elements.credential.value) return;
    event.preventDefault();
    options.challenge = toBytes(options.challenge);
    var ask;
    if (form.dataset.mode === "create") {
      options.user.id = toBytes(options.user.id);
      options.excludeCredentials = described(options.excludeCredentials);
      ask = navigator.credentials.create({ publicKey: options });
    } else {
      options.allowCredentials = described(options.allowCredentials);
      ask = navigator.credentials.get({ publicKey: options });
    }
    ask.then(function (cred) {
      form.elements.credential.value = answer(cred);
      form.submit();
    }, function () {
      var note = document.getElementById("passkey-note");
      if (note) note.hidden = false;
      options = JSON.parse(source.textContent);
    });
  });
})();
