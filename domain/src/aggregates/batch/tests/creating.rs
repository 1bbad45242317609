//! Creating a batch: drafted with its list and its one kind of content.

use super::*;

#[test]
fn creating_a_batch_drafts_it_and_attaches_its_list() {
    BatchTest::with(())
        .given_no_previous_events()
        .when(create(
            "Flu",
            "Hi ((name))",
            Some("73211009"),
            BatchContent::Message,
            list(3),
        ))
        .then_expect_events(drafted());
}

#[test]
fn a_list_with_nobody_to_contact_is_refused() {
    BatchTest::with(())
        .given_no_previous_events()
        .when(create("Flu", "Hi", None, BatchContent::Message, list(0)))
        .then_expect_error(BatchError::NobodyToContact);
}

#[test]
fn a_batch_with_a_questionnaire_is_a_florey_batch() {
    BatchTest::with(())
        .given_no_previous_events()
        .when(create(
            "BP",
            "Please send your readings: ((link))",
            None,
            BatchContent::Questionnaire(Questionnaire::BloodPressure7Day),
            list(3),
        ))
        .then_expect_events(florey_drafted());
}

/// Two kinds at once cannot be represented (`content.rs` refuses them at
/// the edge); each kind is drafted and read back as itself.
#[test]
fn a_batch_is_one_kind_of_link_at_most() {
    let leaflet = Attachment {
        attachment_id: "a-1".into(),
        blob_key: "attachments/A12345/a-1".into(),
        file_name: "Flu leaflet.pdf".into(),
        content_type: "application/pdf".into(),
        size: 10,
        sha256: "00".into(),
    };
    let flu = SelfBook {
        appointment_type: events::AppointmentChannel::InPerson,
        slot_type: "flu".into(),
        timing: events::Timing::ExactTime,
        clinicians: vec![],
        location: None,
        within_days: None,
        decline: None,
        expiry: events::LinkExpiry::Days14,
    };
    let drafted_as = |content: BatchContent| {
        let mut batch = Batch::default();
        let events = BatchTest::with(())
            .given_no_previous_events()
            .when(create(
                "Leaflet",
                "Our leaflet: ((link))",
                None,
                content,
                list(3),
            ))
            .inspect_result()
            .unwrap();
        for event in events {
            batch.apply(event);
        }
        batch
    };
    let invites = drafted_as(BatchContent::SelfBook(Box::new(flu.clone())));
    assert_eq!(invites.kind(), BatchKind::SelfBook);
    assert_eq!(invites.link_purpose(), Some(LinkPurpose::Invite));
    assert_eq!(invites.self_book(), Some(&flu));
    assert!(invites.sms_only());
    let mut batch = Batch::default();
    for event in [
        BatchEvent::BatchDrafted {
            batch_id: "b-1".into(),
            organisation_id: "A12345".into(),
            name: "Leaflet".into(),
            kind: BatchKind::SimpleMessage,
            template: "Our leaflet: ((link))".into(),
            email_subject: None,
            snomed_code: None,
            questionnaire: None,
            attachment: Some(leaflet.clone()),
            self_book: None,
            from_template: None,
            workspace_id: None,
        },
        BatchEvent::PatientListAttached(list(3)),
    ] {
        batch.apply(event);
    }
    assert_eq!(batch.link_purpose(), Some(LinkPurpose::Attachment));
    assert_eq!(batch.attachment(), Some(&leaflet));
    assert_eq!(
        drafted_as(BatchContent::Attachment(leaflet.clone())).content(),
        batch.content()
    );
    let series = drafted_as(BatchContent::InhalerSeries);
    assert_eq!(
        (series.kind(), series.sms_only(), series.link_purpose()),
        (BatchKind::InhalerSeries, true, None)
    );
    assert_eq!(Batch::default().link_purpose(), None);
}
