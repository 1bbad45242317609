//! Message templates: personal ("My templates") or shared with the
//! organisation ("Shared templates"), written, edited and deleted by staff,
//! and copied into a batch when it is created, so a later edit changes no
//! batch already made.

use cqrs_es::persist::PersistedEventRepository;
use events::{TemplateText, TemplateUsed};
use serde::Serialize;

use super::{Batchbook, BatchbookError, Caller, CommandError, Role};
use crate::aggregates::{Editor, TemplateCommand, TemplateError};
use crate::projection::{ItemBody, ItemKind, TemplateItem, WorkspaceItem};
use crate::template::{SmsLength, Template};
use crate::values::{one_line, text};

/// A template's length is checked for a given name this long: the longest
/// a given name may be in the NHS Data Dictionary (PERSON GIVEN NAME, an35).
pub const TEMPLATE_NAME_LENGTH: usize = 35;

/// A template as staff write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDraft {
    pub name: String,
    pub body: String,
    pub email_subject: Option<String>,
}

/// A template as the template list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateView {
    pub template_id: String,
    pub owner: String,
    pub owner_name: String,
    pub shared: bool,
    pub version: u32,
    pub text: TemplateText,
    /// Its length filled in with a 35-character name and the link.
    pub sms: SmsLength,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The caller's templates: their own, and those shared with everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateLists {
    pub mine: Vec<TemplateView>,
    pub shared: Vec<TemplateView>,
}

fn invalid(detail: impl Into<String>) -> BatchbookError {
    BatchbookError::InvalidRequest(detail.into())
}

/// The words checked: a name, a message whose placeholders Batchbook fills
/// and which fits in a text once filled in, and a subject.
fn checked(
    draft: TemplateDraft,
    link_base_url: &str,
) -> Result<(TemplateText, SmsLength), BatchbookError> {
    let name =
        one_line(&draft.name, text::NAME_CHARS).map_err(|e| invalid(format!("name: {e}")))?;
    if name.is_empty() {
        return Err(invalid("name: give the template a name"));
    }
    let sms = length(&draft.body, link_base_url).map_err(|e| invalid(format!("body: {e}")))?;
    let email_subject = match draft.email_subject.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(subject) => Some(
            one_line(subject, text::EMAIL_SUBJECT_CHARS)
                .map_err(|e| invalid(format!("email_subject: {e}")))?
                .to_owned(),
        ),
    };
    Ok((
        TemplateText {
            name: name.to_owned(),
            body: draft.body,
            email_subject,
        },
        sms,
    ))
}

/// A template body's worst-case text length, refused when too long.
fn length(body: &str, link_base_url: &str) -> Result<SmsLength, crate::template::TemplateError> {
    let template = Template::parse(body)?;
    let link = if template.has_link() {
        crate::links::url(link_base_url, &"x".repeat(crate::links::TOKEN_LENGTH))
            .chars()
            .count()
    } else {
        0
    };
    template.worst_case(TEMPLATE_NAME_LENGTH, link).check(None)
}

fn refusal(e: CommandError<TemplateError>) -> BatchbookError {
    match e {
        CommandError::Refused(TemplateError::NotFound) => BatchbookError::TemplateNotFound,
        CommandError::Refused(TemplateError::NotYours(owner)) => {
            BatchbookError::NotYourTemplate(owner)
        }
        CommandError::Refused(TemplateError::SharedNeedsAdmin) => {
            BatchbookError::RoleNeeded(Role::Admin)
        }
        CommandError::Refused(TemplateError::AlreadyExists) => BatchbookError::Conflict,
        CommandError::Refused(e @ TemplateError::StaysShared) => invalid(e.to_string()),
        CommandError::Conflict => BatchbookError::Conflict,
        CommandError::Stopped(never) => match never {},
        CommandError::Unavailable(cause) => BatchbookError::Unavailable(cause),
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    fn editor(caller: &Caller) -> Result<Editor, BatchbookError> {
        caller.require(Role::Staff)?;
        Ok(Editor {
            organisation_id: caller.organisation_id.to_string(),
            user_id: caller.user_id().unwrap_or(&caller.actor).to_owned(),
            admin: caller.require(Role::Admin).is_ok(),
        })
    }

    fn view(&self, row: &WorkspaceItem) -> Option<TemplateView> {
        let ItemBody::Template(TemplateItem {
            owner,
            owner_name,
            shared,
            version,
            text,
            updated_at,
        }) = &row.item
        else {
            return None;
        };
        let sms = length(&text.body, &self.ports.links.base_url).ok()?;
        Some(TemplateView {
            template_id: row.id.clone(),
            owner: owner.clone(),
            owner_name: owner_name.clone(),
            shared: *shared,
            version: *version,
            text: text.clone(),
            sms,
            updated_at: *updated_at,
        })
    }

    /// A template the caller may use: their own, or a shared one, of their
    /// organisation.
    pub async fn template(
        &self,
        caller: &Caller,
        template_id: &str,
    ) -> Result<TemplateView, BatchbookError> {
        let row = self
            .ports
            .views
            .item(ItemKind::Template, template_id)
            .await?
            .filter(|row| !row.deleted && row.organisation_id == caller.organisation_id.as_ref())
            .ok_or(BatchbookError::TemplateNotFound)?;
        let view = self.view(&row).ok_or(BatchbookError::TemplateNotFound)?;
        if !view.shared && Some(view.owner.as_str()) != caller.user_id() {
            return Err(BatchbookError::TemplateNotFound);
        }
        Ok(view)
    }

    /// "My templates" and "Shared templates".
    pub async fn templates(&self, caller: &Caller) -> Result<TemplateLists, BatchbookError> {
        let org = caller.organisation_id.as_ref();
        let mut lists = TemplateLists {
            mine: vec![],
            shared: vec![],
        };
        let mut after = None;
        loop {
            let page = self
                .ports
                .views
                .list_items(org, ItemKind::Template, after.as_deref(), 200)
                .await?;
            for view in page
                .items
                .iter()
                .filter(|r| !r.deleted)
                .filter_map(|r| self.view(r))
            {
                if view.shared {
                    lists.shared.push(view);
                } else if Some(view.owner.as_str()) == caller.user_id() {
                    lists.mine.push(view);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(lists),
            }
        }
    }

    /// Writes a template; a shared one needs the admin role.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn create_template(
        &self,
        caller: &Caller,
        draft: TemplateDraft,
        shared: bool,
    ) -> Result<TemplateView, BatchbookError> {
        let editor = Self::editor(caller)?;
        if shared {
            caller.require(Role::Admin)?;
        }
        let (text, _) = checked(draft, &self.ports.links.base_url)?;
        let template_id = uuid::Uuid::new_v4().to_string();
        let command = TemplateCommand::Create {
            template_id: template_id.clone(),
            editor,
            owner_name: caller.name.clone(),
            shared,
            text,
            now: self.ports.clock.now(),
        };
        self.templates
            .execute(&template_id, command, self.metadata(caller))
            .await
            .map_err(refusal)?;
        self.refresh_views(&self.templates, &template_id).await?;
        self.template(caller, &template_id).await
    }

    /// Changes a template's words: the writer's own, or (admins) a shared
    /// one; with `share`, an admin shares their personal template.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn edit_template(
        &self,
        caller: &Caller,
        template_id: &str,
        draft: TemplateDraft,
        share: bool,
    ) -> Result<TemplateView, BatchbookError> {
        let editor = Self::editor(caller)?;
        let (text, _) = checked(draft, &self.ports.links.base_url)?;
        let now = self.ports.clock.now();
        self.templates
            .execute_retrying(
                template_id,
                || self.metadata(caller),
                |_| TemplateCommand::Edit {
                    editor: editor.clone(),
                    text: text.clone(),
                    share,
                    now,
                },
            )
            .await
            .map_err(refusal)?;
        self.refresh_views(&self.templates, template_id).await?;
        self.template(caller, template_id).await
    }

    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn delete_template(
        &self,
        caller: &Caller,
        template_id: &str,
    ) -> Result<(), BatchbookError> {
        let editor = Self::editor(caller)?;
        let now = self.ports.clock.now();
        self.templates
            .execute_retrying(
                template_id,
                || self.metadata(caller),
                |_| TemplateCommand::Delete {
                    editor: editor.clone(),
                    now,
                },
            )
            .await
            .map_err(refusal)?;
        self.refresh_views(&self.templates, template_id).await?;
        Ok(())
    }

    /// The words a batch copies from a template, and which version they are.
    pub(in crate::usecases) async fn template_for_batch(
        &self,
        caller: &Caller,
        template_id: &str,
    ) -> Result<(TemplateText, TemplateUsed), BatchbookError> {
        let template = self.templates.load(template_id).await?;
        let usable = template.exists()
            && template.organisation_id() == caller.organisation_id.as_ref()
            && (template.shared() || Some(template.owner()) == caller.user_id());
        let text = template.text().filter(|_| usable).ok_or_else(|| {
            invalid("template_id: there is no such template of yours or shared with you")
        })?;
        Ok((
            text.clone(),
            TemplateUsed {
                template_id: template_id.to_owned(),
                version: template.version(),
                name: text.name.clone(),
            },
        ))
    }
}
