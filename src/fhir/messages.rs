//! The catalogue of message ids: the stable identifiers of the messages
//! terminology servers report (`operationoutcome-message-id`), in the
//! spelling of the HL7 terminology tests, so that a client can match an
//! issue whatever the text's language.

/// One message id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageId {
    /// `ABSTRACT_CODE_NOT_ALLOWED`.
    AbstractCodeNotAllowed,
    /// `CODE_CASE_DIFFERENCE`.
    CodeCaseDifference,
    /// `Coding_has_no_system__cannot_validate`.
    CodingHasNoSystemCannotValidate,
    /// `CONCEPT_DEPRECATED_IN_VALUESET`.
    ConceptDeprecatedInValueset,
    /// `UNKNOWN_CODE_IN_FRAGMENT`.
    UnknownCodeInFragment,
    /// `Display_Name_for__should_be_one_of__instead_of`.
    DisplayNameForShouldBeOneOfInsteadOf,
    /// `Display_Name_WS_for__should_be_one_of__instead_of`: only the
    /// whitespace differs.
    DisplayNameWsForShouldBeOneOfInsteadOf,
    /// `FILTER_NOT_UNDERSTOOD`.
    FilterNotUnderstood,
    /// `INACTIVE_CONCEPT_FOUND`.
    InactiveConceptFound,
    /// `MSG_DEPRECATED`.
    MsgDeprecated,
    /// `MSG_DRAFT`.
    MsgDraft,
    /// `MSG_EXPERIMENTAL`.
    MsgExperimental,
    /// `MSG_WITHDRAWN`.
    MsgWithdrawn,
    /// `NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR`.
    NoValidDisplayFoundNoneForLangErr,
    /// `NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK`.
    NoValidDisplayFoundNoneForLangOk,
    /// `None_of_the_provided_codes_are_in_the_value_set_one`.
    NoneOfTheProvidedCodesAreInTheValueSetOne,
    /// `STATUS_CODE_WARNING_CODE`.
    StatusCodeWarningCode,
    /// `Terminology_TX_System_ValueSet2`.
    TerminologyTxSystemValueSet2,
    /// `Terminology_TX_System_Relative`.
    TerminologyTxSystemRelative,
    /// `UNKNOWN_CODESYSTEM_VERSION_NONE`.
    UnknownCodesystemVersionNone,
    /// `TX_GENERAL_CC_ERROR_MESSAGE`.
    TxGeneralCcErrorMessage,
    /// `UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_CS`.
    UnableToCheckIfTheProvidedCodesAreInTheValueSetCs,
    /// `UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE`.
    UnableToHandleSystemFilterWithNoValue,
    /// `UNABLE_TO_INFER_CODESYSTEM`.
    UnableToInferCodesystem,
    /// `Unable_to_resolve_value_Set_`.
    UnableToResolveValueSet,
    /// `Unknown_Code_in_Version`.
    UnknownCodeInVersion,
    /// `UNKNOWN_CODESYSTEM`.
    UnknownCodesystem,
    /// `UNKNOWN_CODESYSTEM_EXP`.
    UnknownCodesystemExp,
    /// `UNKNOWN_CODESYSTEM_VERSION`.
    UnknownCodesystemVersion,
    /// `UNKNOWN_CODESYSTEM_VERSION_EXP`.
    UnknownCodesystemVersionExp,
    /// `UNKNOWN_FILTER_PROPERTY`.
    UnknownFilterProperty,
    /// `VALUESET_CIRCULAR_REFERENCE`.
    ValuesetCircularReference,
    /// `VALUESET_SUPPLEMENT_MISSING`.
    ValuesetSupplementMissing,
    /// `VALUESET_TOO_COSTLY`.
    ValuesetTooCostly,
    /// `VALUESET_VALUE_MISMATCH`.
    ValuesetValueMismatch,
    /// `VALUESET_VALUE_MISMATCH_CHANGED`.
    ValuesetValueMismatchChanged,
    /// `VALUESET_VALUE_MISMATCH_DEFAULT`.
    ValuesetValueMismatchDefault,
    /// `VALUESET_VERSION_CHECK`.
    ValuesetVersionCheck,
}

impl MessageId {
    /// The id as reported.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageId::AbstractCodeNotAllowed => "ABSTRACT_CODE_NOT_ALLOWED",
            MessageId::CodeCaseDifference => "CODE_CASE_DIFFERENCE",
            MessageId::TerminologyTxSystemValueSet2 => "Terminology_TX_System_ValueSet2",
            MessageId::TerminologyTxSystemRelative => "Terminology_TX_System_Relative",
            MessageId::UnknownCodesystemVersionNone => "UNKNOWN_CODESYSTEM_VERSION_NONE",
            MessageId::CodingHasNoSystemCannotValidate => "Coding_has_no_system__cannot_validate",
            MessageId::ConceptDeprecatedInValueset => "CONCEPT_DEPRECATED_IN_VALUESET",
            MessageId::UnknownCodeInFragment => "UNKNOWN_CODE_IN_FRAGMENT",
            MessageId::DisplayNameForShouldBeOneOfInsteadOf => "Display_Name_for__should_be_one_of__instead_of",
            MessageId::DisplayNameWsForShouldBeOneOfInsteadOf => "Display_Name_WS_for__should_be_one_of__instead_of",
            MessageId::FilterNotUnderstood => "FILTER_NOT_UNDERSTOOD",
            MessageId::InactiveConceptFound => "INACTIVE_CONCEPT_FOUND",
            MessageId::MsgDeprecated => "MSG_DEPRECATED",
            MessageId::MsgDraft => "MSG_DRAFT",
            MessageId::MsgExperimental => "MSG_EXPERIMENTAL",
            MessageId::MsgWithdrawn => "MSG_WITHDRAWN",
            MessageId::NoValidDisplayFoundNoneForLangErr => "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR",
            MessageId::NoValidDisplayFoundNoneForLangOk => "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK",
            MessageId::NoneOfTheProvidedCodesAreInTheValueSetOne => {
                "None_of_the_provided_codes_are_in_the_value_set_one"
            }
            MessageId::StatusCodeWarningCode => "STATUS_CODE_WARNING_CODE",
            MessageId::UnableToCheckIfTheProvidedCodesAreInTheValueSetCs => {
                "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_CS"
            }
            MessageId::TxGeneralCcErrorMessage => "TX_GENERAL_CC_ERROR_MESSAGE",
            MessageId::UnableToHandleSystemFilterWithNoValue => "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE",
            MessageId::UnableToInferCodesystem => "UNABLE_TO_INFER_CODESYSTEM",
            MessageId::UnableToResolveValueSet => "Unable_to_resolve_value_Set_",
            MessageId::UnknownCodeInVersion => "Unknown_Code_in_Version",
            MessageId::UnknownCodesystem => "UNKNOWN_CODESYSTEM",
            MessageId::UnknownCodesystemExp => "UNKNOWN_CODESYSTEM_EXP",
            MessageId::UnknownCodesystemVersion => "UNKNOWN_CODESYSTEM_VERSION",
            MessageId::UnknownCodesystemVersionExp => "UNKNOWN_CODESYSTEM_VERSION_EXP",
            MessageId::UnknownFilterProperty => "UNKNOWN_FILTER_PROPERTY",
            MessageId::ValuesetCircularReference => "VALUESET_CIRCULAR_REFERENCE",
            MessageId::ValuesetSupplementMissing => "VALUESET_SUPPLEMENT_MISSING",
            MessageId::ValuesetTooCostly => "VALUESET_TOO_COSTLY",
            MessageId::ValuesetValueMismatch => "VALUESET_VALUE_MISMATCH",
            MessageId::ValuesetValueMismatchChanged => "VALUESET_VALUE_MISMATCH_CHANGED",
            MessageId::ValuesetValueMismatchDefault => "VALUESET_VALUE_MISMATCH_DEFAULT",
            MessageId::ValuesetVersionCheck => "VALUESET_VERSION_CHECK",
        }
    }
}
