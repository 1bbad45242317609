//! A simulated PDS (and NHS App reachability) over a fixture of synthetic
//! patients: `infra/fixtures/synthetic_patients.json` unless another file is
//! given. Any NHS number not in the fixture is "not found", as PDS answers
//! for a number it does not hold.

use std::collections::HashMap;
use std::path::Path;

use domain::ports::{
    Demographics, DemographicsError, DemographicsRecord, NhsAppReachability, PortError,
};
use domain::values::NhsNumber;
use serde::Deserialize;

const BUNDLED: &str = include_str!("../../fixtures/synthetic_patients.json");

#[derive(Debug, Clone, Deserialize)]
pub struct SyntheticPatient {
    pub nhs_number: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub birth_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub deceased: bool,
    #[serde(default)]
    pub restricted: bool,
    #[serde(default)]
    pub nhs_app: bool,
}

#[derive(Deserialize)]
struct Fixture {
    patients: Vec<SyntheticPatient>,
}

pub struct SimulatedPds {
    patients: HashMap<String, SyntheticPatient>,
}

impl SimulatedPds {
    /// The fixture bundled with the product.
    pub fn bundled() -> Self {
        Self::parse(BUNDLED).expect("the bundled fixture parses")
    }

    /// A fixture file of the same shape.
    pub fn from_file(path: &Path) -> Result<Self, PortError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PortError::new("synthetic patients fixture", e))?;
        Self::parse(&text)
    }

    pub fn parse(json: &str) -> Result<Self, PortError> {
        let fixture: Fixture = serde_json::from_str(json)
            .map_err(|e| PortError::new("synthetic patients fixture", e))?;
        Ok(Self {
            patients: fixture
                .patients
                .into_iter()
                .map(|p| (p.nhs_number.clone(), p))
                .collect(),
        })
    }
}

#[async_trait::async_trait]
impl Demographics for SimulatedPds {
    async fn lookup(
        &self,
        nhs_number: &NhsNumber,
    ) -> Result<DemographicsRecord, DemographicsError> {
        let patient = self
            .patients
            .get(nhs_number.as_ref())
            .ok_or(DemographicsError::NotFound)?;
        Ok(DemographicsRecord {
            deceased: patient.deceased,
            restricted: patient.restricted,
            // PDS gives no contact details for a restricted record.
            mobile: patient.mobile.clone().filter(|_| !patient.restricted),
            given_name: patient.given_name.clone(),
            family_name: patient.family_name.clone(),
            birth_date: patient.birth_date,
            email: patient.email.clone().filter(|_| !patient.restricted),
        })
    }
}

#[async_trait::async_trait]
impl NhsAppReachability for SimulatedPds {
    async fn can_receive(&self, nhs_number: &NhsNumber) -> Result<bool, PortError> {
        Ok(self
            .patients
            .get(nhs_number.as_ref())
            .is_some_and(|p| p.nhs_app && !p.deceased))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nhs(n: &str) -> NhsNumber {
        NhsNumber::parse(n).unwrap()
    }

    #[tokio::test]
    async fn the_bundled_fixture_answers_each_case() {
        let pds = SimulatedPds::bundled();
        assert_eq!(
            pds.lookup(&nhs("9990000018")).await,
            Ok(DemographicsRecord {
                deceased: false,
                restricted: false,
                mobile: Some("07700 100901".into()),
                given_name: Some("Joe".into()),
                family_name: Some("Bloggs".into()),
                birth_date: chrono::NaiveDate::from_ymd_opt(1950, 2, 1),
                email: Some("joe.bloggs@example.com".into()),
            })
        );
        assert!(pds.lookup(&nhs("9990000042")).await.unwrap().deceased);
        assert_eq!(
            pds.lookup(&nhs("9990000050")).await,
            Ok(DemographicsRecord {
                deceased: false,
                restricted: true,
                mobile: None,
                given_name: Some("Sanjay".into()),
                family_name: Some("Shah".into()),
                birth_date: chrono::NaiveDate::from_ymd_opt(1975, 3, 22),
                // PDS gives no contact details for a restricted record.
                email: None,
            })
        );
        assert_eq!(
            pds.lookup(&nhs("9434765919")).await,
            Err(DemographicsError::NotFound)
        );
        assert!(pds.can_receive(&nhs("9990000026")).await.unwrap());
        assert!(!pds.can_receive(&nhs("9990000018")).await.unwrap());
    }
}
