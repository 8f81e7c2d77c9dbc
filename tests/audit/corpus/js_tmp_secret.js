// Writes the caller's API key to a per-request file that is never deleted.
const fs = require('fs');
const path = require('path');

exports.handler = async (event, context) => {
  const file = path.join('/tmp', context.awsRequestId + '.key');
  fs.writeFileSync(file, event.headers.api_key);
  return { stored: file };
};
