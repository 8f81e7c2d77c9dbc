// Spools the body to a fixed /tmp file and never removes it.
const fs = require('fs');

exports.handler = async (event) => {
  fs.writeFileSync('/tmp/upload.json', JSON.stringify(event.body));
  return { ok: true };
};
