//! Contract tests of the real provider clients (GOV.UK Notify, NHS Notify,
//! GP Connect, PDS), each against a local fake of the provider's API that
//! checks what the client sends and answers as the provider documents.
//! They test the clients alone, without the app.

mod gp_connect;
mod nhs_notify;
mod notify;
mod pds;
