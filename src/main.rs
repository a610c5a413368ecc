fn main() {
    print!("{}", cognito_mfa_operator::api::crd_yaml());
}
