// Sloppy-mode assignment without a declaration creates a global.
exports.handler = async function (event, context) {
  lastRequest = { path: event.path, body: event.body };
  return { statusCode: 200 };
};
