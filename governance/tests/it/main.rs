mod corpus;
mod docs;
mod fixtures;
mod load;
