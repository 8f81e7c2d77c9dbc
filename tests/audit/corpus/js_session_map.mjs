// ES module: session tokens remembered per user in a Map.
const sessions = new Map();

export const handler = async (event) => {
  const user = event.requestContext.authorizer.user;
  sessions.set(user, event.headers.authorization_token);
  return { statusCode: 200, body: String(sessions.size) };
};
