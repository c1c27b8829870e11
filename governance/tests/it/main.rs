mod corpus;
mod docs;
mod fixtures;
