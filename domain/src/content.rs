//! What a batch sends: one kind of content, parsed once at the edge. A
//! message alone, a Florey questionnaire, an attachment, the inhaler
//! series or a Self-Book invite; two at once cannot be represented, so no
//! step checks for it. The kind decides who gets it (SMS only, or by each
//! patient's channel) and whether each message carries a link.

use events::{Attachment, BatchKind, Questionnaire, SelfBook};
use serde::{Deserialize, Serialize};

use crate::links::LinkPurpose;

/// A batch's content. `A` is the attachment: its id as staff name it at
/// the edge, the kept file's details once found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchContent<A = Attachment> {
    /// A message alone.
    #[default]
    Message,
    /// Each message carries a link to this questionnaire.
    Questionnaire(Questionnaire),
    /// Each message carries a link that opens this file.
    Attachment(A),
    /// The inhaler-adherence series: this message, then 22 more texts.
    InhalerSeries,
    /// Each message carries a link that books one appointment like this.
    SelfBook(Box<SelfBook>),
}

/// Two kinds were asked for at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("a batch is a questionnaire or an inhaler series, not both")]
    QuestionnaireAndSeries,
    #[error("a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two")]
    TwoKinds,
}

/// Whether a batch of this kind goes by SMS only, to the patients with a
/// mobile: the inhaler series and Self-Book do; the rest go by each
/// patient's own channel.
pub fn sms_only(kind: BatchKind) -> bool {
    matches!(kind, BatchKind::InhalerSeries | BatchKind::SelfBook)
}

impl<A> BatchContent<A> {
    /// The content the request's fields ask for, when they ask for one
    /// kind at most.
    pub fn from_fields(
        questionnaire: Option<Questionnaire>,
        attachment: Option<A>,
        inhaler_series: bool,
        self_book: Option<SelfBook>,
    ) -> Result<Self, ContentError> {
        let asked = [
            questionnaire.is_some(),
            attachment.is_some(),
            inhaler_series,
            self_book.is_some(),
        ];
        match asked {
            [true, false, true, false] => return Err(ContentError::QuestionnaireAndSeries),
            _ if asked.into_iter().filter(|a| *a).count() > 1 => {
                return Err(ContentError::TwoKinds)
            }
            _ => {}
        }
        Ok(match (questionnaire, attachment, self_book) {
            (Some(q), _, _) => Self::Questionnaire(q),
            (_, Some(a), _) => Self::Attachment(a),
            (_, _, Some(s)) => Self::SelfBook(Box::new(s)),
            _ if inhaler_series => Self::InhalerSeries,
            _ => Self::Message,
        })
    }

    /// The kind a `BatchDrafted` event records. An attachment batch is
    /// recorded as a simple message with its file beside it.
    pub fn kind(&self) -> BatchKind {
        match self {
            Self::Message | Self::Attachment(_) => BatchKind::SimpleMessage,
            Self::Questionnaire(_) => BatchKind::FloreyQuestionnaire,
            Self::InhalerSeries => BatchKind::InhalerSeries,
            Self::SelfBook(_) => BatchKind::SelfBook,
        }
    }

    /// Sent by SMS only, to the patients with a mobile.
    pub fn sms_only(&self) -> bool {
        sms_only(self.kind())
    }

    /// Each message carries the patient's own link (`((link))`).
    pub fn has_link(&self) -> bool {
        self.link_purpose().is_some()
    }

    /// What each patient's link opens.
    pub fn link_purpose(&self) -> Option<LinkPurpose> {
        match self {
            Self::Questionnaire(_) => Some(LinkPurpose::Questionnaire),
            Self::Attachment(_) => Some(LinkPurpose::Attachment),
            Self::SelfBook(_) => Some(LinkPurpose::Invite),
            Self::Message | Self::InhalerSeries => None,
        }
    }

    pub fn questionnaire(&self) -> Option<Questionnaire> {
        match self {
            Self::Questionnaire(q) => Some(*q),
            _ => None,
        }
    }

    pub fn attachment(&self) -> Option<&A> {
        match self {
            Self::Attachment(a) => Some(a),
            _ => None,
        }
    }

    pub fn self_book(&self) -> Option<&SelfBook> {
        match self {
            Self::SelfBook(s) => Some(s),
            _ => None,
        }
    }

    /// The same content, with its attachment found (or refused) by `find`.
    pub async fn with_attachment<B, E>(
        self,
        find: impl AsyncFnOnce(A) -> Result<B, E>,
    ) -> Result<BatchContent<B>, E> {
        Ok(match self {
            Self::Message => BatchContent::Message,
            Self::Questionnaire(q) => BatchContent::Questionnaire(q),
            Self::Attachment(a) => BatchContent::Attachment(find(a).await?),
            Self::InhalerSeries => BatchContent::InhalerSeries,
            Self::SelfBook(s) => BatchContent::SelfBook(s),
        })
    }
}

impl BatchContent {
    /// The content a `BatchDrafted` event records, read back.
    pub fn drafted(
        kind: BatchKind,
        questionnaire: Option<Questionnaire>,
        attachment: Option<Attachment>,
        self_book: Option<Box<SelfBook>>,
    ) -> Self {
        match (kind, questionnaire, attachment, self_book) {
            (_, Some(q), _, _) => Self::Questionnaire(q),
            (_, _, Some(a), _) => Self::Attachment(a),
            (_, _, _, Some(s)) => Self::SelfBook(s),
            (BatchKind::InhalerSeries, ..) => Self::InhalerSeries,
            _ => Self::Message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flu() -> SelfBook {
        SelfBook {
            appointment_type: events::AppointmentChannel::InPerson,
            slot_type: "flu".into(),
            timing: Default::default(),
            clinicians: vec![],
            location: None,
            within_days: None,
            decline: None,
            expiry: Default::default(),
        }
    }

    #[test]
    fn a_batch_is_one_kind_at_most() {
        let q = Some(Questionnaire::SmokingStatus);
        let s = || Some(flu());
        let refused =
            |q, a: Option<&str>, series, s| BatchContent::from_fields(q, a, series, s).unwrap_err();
        assert_eq!(
            refused(q, None, true, None),
            ContentError::QuestionnaireAndSeries
        );
        assert_eq!(refused(q, Some("a"), false, None), ContentError::TwoKinds);
        assert_eq!(refused(None, Some("a"), true, None), ContentError::TwoKinds);
        assert_eq!(refused(None, None, true, s()), ContentError::TwoKinds);
        assert_eq!(refused(q, Some("a"), true, s()), ContentError::TwoKinds);
        assert_eq!(
            ContentError::TwoKinds.to_string(),
            "a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two"
        );
        let one = |q, a: Option<&'static str>, series, s| {
            BatchContent::from_fields(q, a, series, s).unwrap()
        };
        assert_eq!(one(None, None, false, None), BatchContent::Message);
        assert_eq!(
            one(q, None, false, None),
            BatchContent::Questionnaire(Questionnaire::SmokingStatus)
        );
        assert_eq!(
            one(None, Some("a"), false, None),
            BatchContent::Attachment("a")
        );
        assert_eq!(one(None, None, true, None), BatchContent::InhalerSeries);
        assert_eq!(
            one(None, None, false, s()),
            BatchContent::SelfBook(Box::new(flu()))
        );
    }

    #[test]
    fn the_kind_decides_the_channel_and_the_link() {
        let cases: [(BatchContent<&str>, BatchKind, bool, Option<LinkPurpose>); 5] = [
            (BatchContent::Message, BatchKind::SimpleMessage, false, None),
            (
                BatchContent::Questionnaire(Questionnaire::SmokingStatus),
                BatchKind::FloreyQuestionnaire,
                false,
                Some(LinkPurpose::Questionnaire),
            ),
            (
                BatchContent::Attachment("a"),
                BatchKind::SimpleMessage,
                false,
                Some(LinkPurpose::Attachment),
            ),
            (
                BatchContent::InhalerSeries,
                BatchKind::InhalerSeries,
                true,
                None,
            ),
            (
                BatchContent::SelfBook(Box::new(flu())),
                BatchKind::SelfBook,
                true,
                Some(LinkPurpose::Invite),
            ),
        ];
        for (content, kind, sms_only, link) in cases {
            assert_eq!(
                (
                    content.kind(),
                    content.sms_only(),
                    content.link_purpose(),
                    content.has_link()
                ),
                (kind, sms_only, link, link.is_some()),
                "{content:?}"
            );
        }
    }
}
