//! Message templates with GOV.UK Notify-style placeholders: `((name))`.

/// Fills `((name))` with the patient's given name, or "patient" when the list
/// has none, so a message never reads "Dear ,".
pub fn render(template: &str, given_name: Option<&str>) -> String {
    template.replace("((name))", given_name.unwrap_or("patient"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_placeholder_is_filled() {
        assert_eq!(render("Dear ((name)), hi", Some("Joe")), "Dear Joe, hi");
        assert_eq!(render("Dear ((name)), hi", None), "Dear patient, hi");
        assert_eq!(render("No placeholder", Some("Joe")), "No placeholder");
    }
}
