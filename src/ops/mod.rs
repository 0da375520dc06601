//! The verbs of ktra, shared by the command line and the publish receiver. Each takes an opened
//! [`Registry`](crate::registry::Registry) and does its work through `storage`.

pub mod add;
mod add_plan;
pub(crate) mod change;
pub mod init;
pub mod inspect;
pub mod list;
#[cfg(feature = "aws")]
pub mod migrate;
pub(crate) mod order;
pub mod owners;
pub mod rebuild;
pub mod remove;
pub mod set_url;
pub mod site;
pub mod state;
pub mod transfer;
pub mod users;
pub mod verify;
mod writer;
pub mod yank;
