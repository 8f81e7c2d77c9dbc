// Current user parked on a class static property.
class RequestState {
  static user = null;
}

exports.handler = async (event) => {
  RequestState.user = event.requestContext.authorizer.principalId;
  return { user: RequestState.user };
};
