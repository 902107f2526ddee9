// Cross-check of the Web Push encryption with http_ece (the library the
// web-push npm package uses), run by crosscheck_test.go:
//   node ece.js <path of the http_ece package> < request.json
// request {"op":"decrypt","body","privateKey","auth"} prints {"plaintext"};
// request {"op":"encrypt","plaintext","publicKey","auth","pad"} prints
// {"body"}. Every binary value is base64url.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const ece = require(process.argv[2]);

const req = JSON.parse(fs.readFileSync(0, 'utf8'));
const b64 = (buf) => Buffer.from(buf).toString('base64url');
let out;
if (req.op === 'decrypt') {
  const receiver = crypto.createECDH('prime256v1');
  receiver.setPrivateKey(Buffer.from(req.privateKey, 'base64url'));
  const plain = ece.decrypt(Buffer.from(req.body, 'base64url'), {
    version: 'aes128gcm',
    privateKey: receiver,
    authSecret: req.auth,
  });
  out = { plaintext: b64(plain) };
} else if (req.op === 'encrypt') {
  const sender = crypto.createECDH('prime256v1');
  sender.generateKeys();
  const body = ece.encrypt(Buffer.from(req.plaintext, 'base64url'), {
    version: 'aes128gcm',
    privateKey: sender,
    dh: req.publicKey,
    authSecret: req.auth,
    pad: req.pad || 0,
  });
  out = { body: b64(body) };
} else {
  throw new Error('unknown op ' + req.op);
}
process.stdout.write(JSON.stringify(out));
