// Same handler, card in a local: nothing outlives the invocation.
var payments = require('payments');

exports.handler = function (event, context) {
  var creditCard = {
    number: event.credit_card_number,
    exp: event.credit_card_expiration,
    code: event.credit_card_security_code,
  };
  payments.verify(creditCard, function (err) {
    if (err) {
      return context.fail('Invalid card');
    }
    context.succeed('verified');
  });
};
