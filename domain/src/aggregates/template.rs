//! The Template aggregate: one per message template. A template is its
//! writer's own, or shared with the organisation; only its writer changes
//! a personal one, and only an admin a shared one. Each edit is a new
//! version, so a batch can say which words it copied.

use chrono::{DateTime, Utc};
use events::{TemplateEvent, TemplateText};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Template {
    template_id: String,
    organisation_id: String,
    owner: String,
    owner_name: String,
    shared: bool,
    version: u32,
    text: Option<TemplateText>,
    deleted: bool,
}

/// Who is changing a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub organisation_id: String,
    pub user_id: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplateCommand {
    Create {
        template_id: String,
        editor: Editor,
        owner_name: String,
        shared: bool,
        text: TemplateText,
        now: DateTime<Utc>,
    },
    /// New words; with `share`, a personal template is also shared with
    /// the organisation (by its writer, an admin).
    Edit {
        editor: Editor,
        text: TemplateText,
        share: bool,
        now: DateTime<Utc>,
    },
    Delete {
        editor: Editor,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("there is no such template")]
    NotFound,
    #[error("this template already exists")]
    AlreadyExists,
    #[error("this template is {0}'s own; only they can change it")]
    NotYours(String),
    #[error("a shared template can be written or changed only by an admin")]
    SharedNeedsAdmin,
    #[error(
        "shared: a shared template stays shared; to keep words of your own, write a new template"
    )]
    StaysShared,
}

impl Template {
    pub fn exists(&self) -> bool {
        self.text.is_some() && !self.deleted
    }

    pub fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn owner_name(&self) -> &str {
        &self.owner_name
    }

    pub fn shared(&self) -> bool {
        self.shared
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn text(&self) -> Option<&TemplateText> {
        self.text.as_ref().filter(|_| !self.deleted)
    }

    /// A template of another organisation, or deleted, looks like one that
    /// never was; then only its writer, or an admin for a shared one, may
    /// change it.
    fn changeable_by(&self, editor: &Editor) -> Result<(), TemplateError> {
        if !self.exists() || self.organisation_id != editor.organisation_id {
            return Err(TemplateError::NotFound);
        }
        match (self.shared, editor.admin) {
            (true, true) => Ok(()),
            (true, false) => Err(TemplateError::SharedNeedsAdmin),
            (false, _) if self.owner == editor.user_id => Ok(()),
            (false, _) => Err(TemplateError::NotYours(self.owner_name.clone())),
        }
    }

    async fn decide(
        &mut self,
        command: TemplateCommand,
        _services: &(),
    ) -> Result<Vec<TemplateEvent>, TemplateError> {
        let event = match command {
            TemplateCommand::Create {
                template_id,
                editor,
                owner_name,
                shared,
                text,
                now,
            } => {
                if self.text.is_some() {
                    return Err(TemplateError::AlreadyExists);
                }
                if shared && !editor.admin {
                    return Err(TemplateError::SharedNeedsAdmin);
                }
                TemplateEvent::TemplateCreated {
                    template_id,
                    organisation_id: editor.organisation_id,
                    owner: editor.user_id,
                    owner_name,
                    shared,
                    text,
                    created_at: now,
                }
            }
            TemplateCommand::Edit {
                editor,
                text,
                share,
                now,
            } => {
                self.changeable_by(&editor)?;
                if self.shared && !share {
                    return Err(TemplateError::StaysShared);
                }
                let sharing = share && !self.shared;
                if sharing && !editor.admin {
                    return Err(TemplateError::SharedNeedsAdmin);
                }
                let mut events = Vec::new();
                if self.text.as_ref() != Some(&text) {
                    events.push(TemplateEvent::TemplateEdited {
                        template_id: self.template_id.clone(),
                        version: self.version + 1,
                        text,
                        edited_at: now,
                    });
                }
                if sharing {
                    events.push(TemplateEvent::TemplateShared {
                        template_id: self.template_id.clone(),
                        shared_at: now,
                    });
                }
                return Ok(events);
            }
            TemplateCommand::Delete { editor, now } => {
                self.changeable_by(&editor)?;
                TemplateEvent::TemplateDeleted {
                    template_id: self.template_id.clone(),
                    deleted_at: now,
                }
            }
        };
        Ok(vec![event])
    }

    fn apply_event(&mut self, event: TemplateEvent) {
        match event {
            TemplateEvent::TemplateCreated {
                template_id,
                organisation_id,
                owner,
                owner_name,
                shared,
                text,
                ..
            } => {
                *self = Self {
                    template_id,
                    organisation_id,
                    owner,
                    owner_name,
                    shared,
                    version: 1,
                    text: Some(text),
                    deleted: false,
                }
            }
            TemplateEvent::TemplateEdited { version, text, .. } => {
                self.version = version;
                self.text = Some(text);
            }
            TemplateEvent::TemplateShared { .. } => self.shared = true,
            TemplateEvent::TemplateDeleted { .. } => self.deleted = true,
        }
    }
}

aggregate!(
    Template,
    "Template",
    TemplateCommand,
    TemplateEvent,
    TemplateError,
    ()
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    type TemplateTest = TestFramework<Template>;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn editor(user: &str, admin: bool) -> Editor {
        Editor {
            organisation_id: "A12345".into(),
            user_id: user.into(),
            admin,
        }
    }

    fn text(body: &str) -> TemplateText {
        TemplateText {
            name: "Flu".into(),
            body: body.into(),
            email_subject: None,
        }
    }

    fn created(shared: bool) -> TemplateEvent {
        TemplateEvent::TemplateCreated {
            template_id: "t-1".into(),
            organisation_id: "A12345".into(),
            owner: "jo".into(),
            owner_name: "Jo".into(),
            shared,
            text: text("Dear ((name))"),
            created_at: now(),
        }
    }

    fn edit(user: &str, admin: bool) -> TemplateCommand {
        TemplateCommand::Edit {
            editor: editor(user, admin),
            text: text("Hello ((name))"),
            share: false,
            now: now(),
        }
    }

    fn edit_shared(user: &str, admin: bool) -> TemplateCommand {
        TemplateCommand::Edit {
            editor: editor(user, admin),
            text: text("Hello ((name))"),
            share: true,
            now: now(),
        }
    }

    #[test]
    fn a_template_is_created_once_and_only_an_admin_shares_one() {
        let create = |shared, admin| TemplateCommand::Create {
            template_id: "t-1".into(),
            editor: editor("jo", admin),
            owner_name: "Jo".into(),
            shared,
            text: text("Dear ((name))"),
            now: now(),
        };
        TemplateTest::with(())
            .given_no_previous_events()
            .when(create(false, false))
            .then_expect_events(vec![created(false)]);
        TemplateTest::with(())
            .given_no_previous_events()
            .when(create(true, false))
            .then_expect_error(TemplateError::SharedNeedsAdmin);
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(create(false, false))
            .then_expect_error(TemplateError::AlreadyExists);
    }

    #[test]
    fn a_personal_template_is_its_writers_and_a_shared_one_an_admins() {
        let edited = TemplateEvent::TemplateEdited {
            template_id: "t-1".into(),
            version: 2,
            text: text("Hello ((name))"),
            edited_at: now(),
        };
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(edit("jo", false))
            .then_expect_events(vec![edited.clone()]);
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(edit("sam", true))
            .then_expect_error(TemplateError::NotYours("Jo".into()));
        TemplateTest::with(())
            .given(vec![created(true)])
            .when(edit_shared("jo", false))
            .then_expect_error(TemplateError::SharedNeedsAdmin);
        TemplateTest::with(())
            .given(vec![created(true)])
            .when(edit_shared("sam", true))
            .then_expect_events(vec![edited]);
        TemplateTest::with(())
            .given(vec![created(true)])
            .when(edit("sam", true))
            .then_expect_error(TemplateError::StaysShared);
        assert_eq!(
            TemplateError::NotYours("Jo".into()).to_string(),
            "this template is Jo's own; only they can change it"
        );
    }

    #[test]
    fn only_an_admin_shares_their_personal_template_and_the_same_words_change_nothing() {
        let share = |admin| TemplateCommand::Edit {
            editor: editor("jo", admin),
            text: text("Dear ((name))"),
            share: true,
            now: now(),
        };
        let shared = TemplateEvent::TemplateShared {
            template_id: "t-1".into(),
            shared_at: now(),
        };
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(share(true))
            .then_expect_events(vec![shared.clone()]);
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(share(false))
            .then_expect_error(TemplateError::SharedNeedsAdmin);
        // Already shared, same words: nothing to record.
        TemplateTest::with(())
            .given(vec![created(false), shared])
            .when(share(true))
            .then_expect_events(vec![]);
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(TemplateCommand::Edit {
                editor: editor("jo", false),
                text: text("Dear ((name))"),
                share: false,
                now: now(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_deleted_or_foreign_template_is_not_found() {
        let deleted = TemplateEvent::TemplateDeleted {
            template_id: "t-1".into(),
            deleted_at: now(),
        };
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(TemplateCommand::Delete {
                editor: editor("jo", false),
                now: now(),
            })
            .then_expect_events(vec![deleted.clone()]);
        TemplateTest::with(())
            .given(vec![created(false), deleted])
            .when(edit("jo", false))
            .then_expect_error(TemplateError::NotFound);
        let mut foreign = editor("jo", true);
        foreign.organisation_id = "B99999".into();
        TemplateTest::with(())
            .given(vec![created(false)])
            .when(TemplateCommand::Delete {
                editor: foreign,
                now: now(),
            })
            .then_expect_error(TemplateError::NotFound);
    }
}
