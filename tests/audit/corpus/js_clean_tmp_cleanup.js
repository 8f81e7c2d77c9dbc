// Per-request /tmp file, removed in finally.
const fs = require('fs');
const os = require('os');
const path = require('path');

exports.handler = async (event, context) => {
  const file = path.join(os.tmpdir(), `${context.awsRequestId}.json`);
  try {
    fs.writeFileSync(file, JSON.stringify(event));
    return { size: fs.statSync(file).size };
  } finally {
    fs.unlinkSync(file);
  }
};
