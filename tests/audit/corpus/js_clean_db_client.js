// DynamoDB client created once at init: the intended use of reuse.
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb');

const client = new DynamoDBClient({ region: process.env.AWS_REGION });
const TABLE = process.env.TABLE || 'orders';
let invocations = 0;

exports.handler = async (event) => {
  invocations += 1;
  const out = await client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: event.id } } }));
  return { item: out.Item, warm: invocations };
};
